-- imggen schema, version 4: fire the status triggers only when they have
-- work to do.  A claim moves queued -> processing, which changes neither the
-- pending count nor anything a webhook reports; with the old WHEN clauses
-- the trigger functions still ran on every claim (measured: about 40 % of
-- a claim's time, docs/performance.md).
DROP TRIGGER image_generations_pending ON image_generations;
CREATE TRIGGER image_generations_pending AFTER UPDATE OF status ON image_generations
	FOR EACH ROW
	WHEN ((OLD.status IN ('queued', 'processing')) IS DISTINCT FROM
	      (NEW.status IN ('queued', 'processing')))
	EXECUTE FUNCTION imggen_pending_track();

DROP TRIGGER image_generations_webhook ON image_generations;
CREATE TRIGGER image_generations_webhook AFTER UPDATE OF status ON image_generations
	FOR EACH ROW
	WHEN (NEW.status IN ('completed', 'failed', 'canceled')
	      AND OLD.status NOT IN ('completed', 'failed', 'canceled')
	      AND NEW.metadata ? 'webhookUrl')
	EXECUTE FUNCTION imggen_webhook_enqueue();
