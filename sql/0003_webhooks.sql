-- imggen schema, version 3: webhooks.

-- Per-user webhook signing secrets are derived from the server's
-- IMGGEN_WEBHOOK_KEY and this version (HMAC), so no secret is stored here;
-- bumping the version rotates the user's secret.
ALTER TABLE users ADD COLUMN webhook_secret_version integer NOT NULL DEFAULT 1
	CHECK (webhook_secret_version > 0);
COMMENT ON COLUMN users.webhook_secret_version IS 'Rotates the user''s derived webhook secret (imggen-admin webhook rotate).';

-- One row per delivery attempt, for the operator.
CREATE TABLE webhook_deliveries (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	generation_id	uuid NOT NULL REFERENCES image_generations (id) ON DELETE CASCADE,
	job_id		bigint NOT NULL,
	attempt		integer NOT NULL,
	url		text NOT NULL,
	http_status	integer,
	outcome		text NOT NULL CHECK (outcome IN ('delivered', 'retry', 'dead')),
	detail		text NOT NULL DEFAULT '',
	created_at	timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE webhook_deliveries IS 'Every webhook delivery attempt: status and a short, sanitised excerpt of the answer.';
CREATE INDEX webhook_deliveries_generation ON webhook_deliveries (generation_id, id);

-- A generation with a webhookUrl that reaches a terminal state gets a
-- webhook job, in the same transaction as the state change, whichever path
-- made it terminal (worker, cancel, rescue).
CREATE FUNCTION imggen_webhook_enqueue() RETURNS trigger
	LANGUAGE plpgsql SET search_path = public, pg_catalog AS $$
BEGIN
	IF NEW.status IN ('completed', 'failed', 'canceled')
	   AND OLD.status NOT IN ('completed', 'failed', 'canceled')
	   AND NEW.metadata ? 'webhookUrl' THEN
		INSERT INTO jobs (kind, generation_id, max_attempts)
			VALUES ('webhook', NEW.id, 8);
		PERFORM pg_notify('imggen_jobs', '');
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER image_generations_webhook AFTER UPDATE OF status ON image_generations
	FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
	EXECUTE FUNCTION imggen_webhook_enqueue();
