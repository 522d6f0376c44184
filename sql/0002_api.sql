-- imggen schema, version 2: idempotency keys, per-user limits, the status
-- document as one function shared by every route that returns it.

-- Idempotency-Key: one live key per user (24 h; older keys are released by
-- the API before reuse and by maintenance).  request_hash is the SHA-256 of
-- the validated request, so a replay with another body is detected.
ALTER TABLE image_generations ADD COLUMN request_hash text
	CHECK (request_hash ~ '^[0-9a-f]{64}$');
CREATE UNIQUE INDEX image_generations_idempotency ON image_generations (user_id, idempotency_key)
	WHERE idempotency_key IS NOT NULL;
COMMENT ON COLUMN image_generations.idempotency_key IS 'Client Idempotency-Key, unique per user while set (24 h).';
COMMENT ON COLUMN image_generations.request_hash IS 'SHA-256 (hex) of prompt + canonical metadata, to tell a replay from a different request.';

-- Per-user limits, kept as counters on the user row so that the enqueue
-- statement can check and take them in one UPDATE: the row lock serialises
-- a user's concurrent requests and the WHERE clause is re-checked against
-- the latest row, so the limits hold under any concurrency.
ALTER TABLE users
	ADD COLUMN pending integer NOT NULL DEFAULT 0 CHECK (pending >= 0),
	ADD COLUMN images_today integer NOT NULL DEFAULT 0 CHECK (images_today >= 0),
	ADD COLUMN quota_day date;
COMMENT ON COLUMN users.pending IS 'Queued + processing generations; maintained by the enqueue statement and a trigger.';
COMMENT ON COLUMN users.images_today IS 'Images requested on quota_day (UTC).';

UPDATE users u SET pending = (SELECT count(*) FROM image_generations g
	WHERE g.user_id = u.id AND g.status IN ('queued', 'processing'));

-- Leaving (or re-entering, on requeue) the pending states moves the counter.
CREATE FUNCTION imggen_pending_track() RETURNS trigger
	LANGUAGE plpgsql SET search_path = public, pg_catalog AS $$
BEGIN
	IF OLD.status IN ('queued', 'processing') AND NEW.status NOT IN ('queued', 'processing') THEN
		UPDATE users SET pending = greatest(pending - 1, 0) WHERE id = NEW.user_id;
	ELSIF OLD.status NOT IN ('queued', 'processing') AND NEW.status IN ('queued', 'processing') THEN
		UPDATE users SET pending = pending + 1 WHERE id = NEW.user_id;
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER image_generations_pending AFTER UPDATE OF status ON image_generations
	FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
	EXECUTE FUNCTION imggen_pending_track();

-- The status document of GET /queue/:id, the list route and cancel.
-- queue_position is computed by the caller (NULL unless queued).
CREATE FUNCTION imggen_generation_doc(g image_generations, queue_position bigint) RETURNS json
	LANGUAGE sql STABLE SET search_path = public, pg_catalog AS $$
SELECT json_build_object(
	'generationId', g.id, 'status', g.status, 'prompt', g.prompt,
	'metadata', g.metadata,
	'progress', json_build_object(
		'completed', coalesce(jsonb_array_length(g.ai_metadata->'imageIds'), 0),
		'total', (g.metadata->>'numberOfImages')::int),
	'queuePosition', queue_position,
	'images', coalesce((SELECT json_agg(json_build_object(
		'imageId', u.id, 'imageUrl', u.public_url, 'mimeType', u.mime_type,
		'width', u.width, 'height', u.height, 'size', u.size) ORDER BY u.idx)
		FROM uploads u WHERE u.generation_id = g.id), '[]'::json),
	'filtered', coalesce((g.ai_metadata->>'filtered')::int, 0),
	'tokens', g.tokens,
	'error', CASE WHEN g.error_code IS NULL THEN NULL ELSE
		json_build_object('code', g.error_code, 'message', g.error_message) END,
	'attempts', g.attempts,
	'createdAt', imggen_iso(g.created_at),
	'startedAt', imggen_iso(g.started_at),
	'completedAt', imggen_iso(g.completed_at))
$$;
