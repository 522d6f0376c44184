-- imggen schema, version 5: the status document without per-call planning.
--
-- A SQL function with a SET clause, or whose body has a subquery, is never
-- inlined, and PostgreSQL 15 parses and plans its body again in every query
-- that calls it: that was two thirds of a status poll's time
-- (docs/performance.md).  imggen_iso and imggen_doc below are single
-- expressions with SQL-standard bodies (bound at creation, so no search_path
-- is needed for safety) and are inlined into the calling statement; the
-- images subquery is written by the caller (DOC_IMAGES_SQL in doc_sql.h).

CREATE OR REPLACE FUNCTION imggen_iso(ts timestamptz) RETURNS text
	LANGUAGE sql STABLE STRICT PARALLEL SAFE
	RETURN pg_catalog.to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');

-- The status document of GET /queue/:id, the list route, cancel and the
-- webhook body.  queue_position: NULL unless queued; images: the json array
-- of the generation's uploads.
CREATE FUNCTION imggen_doc(g image_generations, queue_position bigint, images json)
	RETURNS json LANGUAGE sql STABLE PARALLEL SAFE
	RETURN json_build_object(
	'generationId', g.id, 'status', g.status, 'prompt', g.prompt,
	'metadata', g.metadata,
	'progress', json_build_object(
		'completed', coalesce(jsonb_array_length(g.ai_metadata->'imageIds'), 0),
		'total', (g.metadata->>'numberOfImages')::int),
	'queuePosition', queue_position,
	'images', images,
	'filtered', coalesce((g.ai_metadata->>'filtered')::int, 0),
	'tokens', g.tokens,
	'error', CASE WHEN g.error_code IS NULL THEN NULL ELSE
		json_build_object('code', g.error_code, 'message', g.error_message) END,
	'attempts', g.attempts,
	'createdAt', imggen_iso(g.created_at),
	'startedAt', imggen_iso(g.started_at),
	'completedAt', imggen_iso(g.completed_at));

-- Version 4's entry point, for binaries of that version still running
-- while a deploy migrates: same document, now defined once, above.
CREATE OR REPLACE FUNCTION imggen_generation_doc(g image_generations, queue_position bigint)
	RETURNS json LANGUAGE sql STABLE SET search_path = public, pg_catalog AS $$
SELECT imggen_doc(g, queue_position, coalesce((SELECT json_agg(json_build_object(
	'imageId', u.id, 'imageUrl', u.public_url, 'mimeType', u.mime_type,
	'width', u.width, 'height', u.height, 'size', u.size) ORDER BY u.idx)
	FROM uploads u WHERE u.generation_id = g.id), '[]'::json))
$$;
