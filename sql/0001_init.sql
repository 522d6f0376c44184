-- imggen schema, version 1.
-- Applied once by `imggen-admin migrate` inside a transaction, under an
-- advisory lock; never edited after release (add 0002_… instead).

CREATE TABLE users (
	id			uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	email			text NOT NULL UNIQUE
				CHECK (length(email) BETWEEN 3 AND 254 AND position('@' IN email) > 1),
	max_pending		integer NOT NULL DEFAULT 20 CHECK (max_pending > 0),
	daily_image_quota	integer NOT NULL DEFAULT 1000 CHECK (daily_image_quota > 0),
	created_at		timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE users IS 'Accounts that own API tokens and generations.';
COMMENT ON COLUMN users.max_pending IS 'Most queued + processing generations at once.';
COMMENT ON COLUMN users.daily_image_quota IS 'Most images requested per UTC day.';

CREATE TABLE api_tokens (
	id		uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	user_id		uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	token_hash	bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
	name		text NOT NULL DEFAULT '' CHECK (length(name) <= 200),
	created_at	timestamptz NOT NULL DEFAULT now(),
	last_used_at	timestamptz,
	revoked_at	timestamptz
);
COMMENT ON TABLE api_tokens IS 'Bearer tokens. Only the SHA-256 of a secret is kept; the secret is shown once.';
COMMENT ON COLUMN api_tokens.last_used_at IS 'Updated at most once a minute per token, to keep reads cheap.';
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE image_generations (
	id		uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	user_id		uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	prompt		text NOT NULL,
	status		text NOT NULL DEFAULT 'queued'
			CHECK (status IN ('queued', 'processing', 'completed', 'failed', 'canceled')),
	metadata	jsonb NOT NULL CHECK (jsonb_typeof(metadata) = 'object'),
	ai_metadata	jsonb,
	tokens		jsonb,
	error_code	text,
	error_message	text,
	idempotency_key	text,
	attempts	integer NOT NULL DEFAULT 0,
	created_at	timestamptz NOT NULL DEFAULT now(),
	started_at	timestamptz,
	completed_at	timestamptz,
	CHECK ((status IN ('completed', 'failed', 'canceled')) = (completed_at IS NOT NULL))
);
COMMENT ON TABLE image_generations IS 'One row per text-to-image request; the durable record of it.';
COMMENT ON COLUMN image_generations.metadata IS 'The request parameters exactly as accepted, defaults filled in.';
COMMENT ON COLUMN image_generations.ai_metadata IS 'What the provider returned: imageIds, provider, model, seed used.';
COMMENT ON COLUMN image_generations.tokens IS 'Provider token usage, when the provider reports it.';
CREATE INDEX image_generations_user_created ON image_generations (user_id, created_at DESC, id DESC);
CREATE INDEX image_generations_finished ON image_generations (completed_at)
	WHERE completed_at IS NOT NULL;

CREATE TABLE uploads (
	id		uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	user_id		uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	generation_id	uuid NOT NULL REFERENCES image_generations (id) ON DELETE CASCADE,
	idx		integer NOT NULL CHECK (idx >= 0),
	storage_key	text NOT NULL,
	public_url	text NOT NULL,
	mime_type	text NOT NULL,
	size		bigint NOT NULL CHECK (size > 0),
	width		integer NOT NULL CHECK (width > 0),
	height		integer NOT NULL CHECK (height > 0),
	sha256		text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
	purpose		text NOT NULL DEFAULT 'generation_output'
			CHECK (purpose IN ('generation_output')),
	created_at	timestamptz NOT NULL DEFAULT now(),
	UNIQUE (generation_id, idx)
);
COMMENT ON TABLE uploads IS 'One row per stored image; (generation_id, idx) is unique, so a retried job cannot add a second row.';

CREATE TABLE jobs (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	kind		text NOT NULL CHECK (kind IN ('generate', 'webhook')),
	generation_id	uuid NOT NULL REFERENCES image_generations (id) ON DELETE CASCADE,
	state		text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'dead')),
	priority	smallint NOT NULL DEFAULT 0,
	run_at		timestamptz NOT NULL DEFAULT now(),
	attempts	integer NOT NULL DEFAULT 0,
	max_attempts	integer NOT NULL DEFAULT 5 CHECK (max_attempts > 0),
	locked_by	text,
	locked_until	timestamptz,
	last_error	text,
	created_at	timestamptz NOT NULL DEFAULT now(),
	CHECK ((state = 'running') = (locked_until IS NOT NULL))
);
COMMENT ON TABLE jobs IS 'The queue. Small and hot: a finished job is deleted; a dead one stays for the operator.';
COMMENT ON COLUMN jobs.attempts IS 'Claims so far; with locked_by it is the lease''s fencing token.';
COMMENT ON COLUMN jobs.locked_until IS 'Lease expiry of a running job; renewed by heartbeats.';
-- The claim query reads only this index: queued jobs by priority, then age.
CREATE INDEX jobs_claimable ON jobs (priority, run_at, id) WHERE state = 'queued';
-- Rescue of expired leases.
CREATE INDEX jobs_running_lease ON jobs (locked_until) WHERE state = 'running';
CREATE INDEX jobs_generation ON jobs (generation_id);

-- Timestamps in the API's one format: UTC, milliseconds, "Z".
CREATE FUNCTION imggen_iso(ts timestamptz) RETURNS text
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog
	RETURN to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
