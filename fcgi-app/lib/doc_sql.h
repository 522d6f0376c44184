/*
 * doc_sql: SQL text shared by the statements that build a generation's
 * status document (the API's routes in store.c, the webhook body in
 * queue.c), so that every copy of the document is the same.
 */
#ifndef IG_DOC_SQL_H
#define IG_DOC_SQL_H

/*
 * The images array of the generation row aliased "g", to pass to
 * imggen_doc() (sql/0005): a subquery, so it lives in the calling
 * statement, where the planner sees it once, and not in the function,
 * which would then be planned again on every call.
 */
#define DOC_IMAGES_SQL \
	"coalesce((SELECT json_agg(json_build_object(" \
	"  'imageId', u.id, 'imageUrl', u.public_url, 'mimeType', u.mime_type, " \
	"  'width', u.width, 'height', u.height, 'size', u.size) ORDER BY u.idx) " \
	"  FROM uploads u WHERE u.generation_id = g.id), '[]'::json)"

#endif
