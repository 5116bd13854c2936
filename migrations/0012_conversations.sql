-- Conversations: a citizen's follow-up joins the case it belongs to; providers' delivery states;
-- numbers that said STOP; media a provider holds for us until a job fetches it.

-- What the provider last said about an outbound message (Twilio: queued, sent, delivered,
-- undelivered, failed) and its error code; `status` keeps our own view (an undelivered SMS is failed).
ALTER TABLE messages ADD COLUMN provider_status text;
ALTER TABLE messages ADD COLUMN provider_error text;
ALTER TABLE messages ADD COLUMN provider_status_at timestamptz;
-- SMS segments the text takes (what the provider charges for).
ALTER TABLE messages ADD COLUMN segments integer;
CREATE INDEX messages_external ON messages (channel, external_id) WHERE external_id IS NOT NULL;
-- The reply window: our last message to an address on a channel.
CREATE INDEX messages_out_recipient ON messages (channel, recipient, id DESC)
    WHERE direction = 'out' AND recipient IS NOT NULL;

-- An address that asked for no more messages on a channel (SMS STOP); START removes it.
CREATE TABLE contact_opt_outs (
    channel       text NOT NULL,
    address       text NOT NULL,
    opted_out_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel, address)
);

-- Media a provider keeps for us (MMS pictures, call recordings): a queue the workers drain, each
-- fetched with the account's credentials and stored as an attachment of its message.
CREATE TABLE media_fetches (
    id               bigserial PRIMARY KEY,
    message_id       bigint NOT NULL REFERENCES messages(id),
    channel          text NOT NULL,
    url              text NOT NULL,
    content_type     text,
    status           text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'fetching', 'done', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz,
    claimed_at       timestamptz,
    error            text,
    attachment_id    bigint REFERENCES attachments(id),
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (message_id, url)
);
CREATE INDEX media_fetches_queue ON media_fetches (id) WHERE status IN ('queued', 'fetching');

-- A follow-up: store the message on its case in one round trip, idempotent on the provider id like
-- intake_message (same lock, so a retried webhook racing itself stores one message). Returns the
-- case's status before and after (an answered case the citizen says is not solved is reopened).
CREATE FUNCTION intake_follow_up(
    p_case_id bigint, p_channel text, p_provider_id text, p_text text, p_sender text, p_identities jsonb,
    p_name text, p_raw jsonb, p_attachments jsonb, p_reopen boolean, p_reopen_reason text
) RETURNS TABLE (case_id bigint, tracking_code text, message_id bigint, created boolean, reopened boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_msg bigint;
    v_status text;
    v_code text;
    v_citizen bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended(p_channel || ':' || p_provider_id, 1022));
    RETURN QUERY
        SELECT m.case_id, c.tracking_code, m.id, false, false
        FROM messages m JOIN cases c ON c.id = m.case_id
        WHERE m.channel = p_channel AND m.direction = 'in' AND m.provider_message_id = p_provider_id;
    IF FOUND THEN
        RETURN;
    END IF;

    SELECT c.status, c.tracking_code, c.citizen_id INTO v_status, v_code, v_citizen
    FROM cases c WHERE c.id = p_case_id FOR UPDATE;

    INSERT INTO messages AS m (case_id, citizen_id, direction, channel, provider_message_id, sender, identities,
                               display_name, text, attachments, raw, status)
    VALUES (p_case_id, v_citizen, 'in', p_channel, p_provider_id, p_sender, p_identities, p_name, p_text,
            coalesce(p_attachments, '[]'::jsonb), p_raw, 'received')
    RETURNING m.id INTO v_msg;

    INSERT INTO case_events (case_id, actor_kind, actor_name, kind, public, changes)
    VALUES (p_case_id, 'citizen', 'citizen', 'citizen_message', true,
            jsonb_build_object('channel', p_channel, 'message_id', v_msg));

    IF p_reopen AND v_status = 'answered' THEN
        UPDATE cases SET status = 'reopened', resolved_at = NULL, updated_at = now() WHERE id = p_case_id;
        INSERT INTO case_events (case_id, actor_kind, actor_name, kind, from_status, to_status, public, reason)
        VALUES (p_case_id, 'citizen', 'citizen', 'status', 'answered', 'reopened', true, p_reopen_reason);
        RETURN QUERY SELECT p_case_id, v_code, v_msg, true, true;
        RETURN;
    END IF;
    UPDATE cases SET updated_at = now() WHERE id = p_case_id;
    RETURN QUERY SELECT p_case_id, v_code, v_msg, true, false;
END $$;

-- Where an agent on duty takes calls from the IVR's queue: a phone number (E.164) or a SIP address.
ALTER TABLE staff_users ADD COLUMN phone text;
