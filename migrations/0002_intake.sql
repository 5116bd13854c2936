-- Intake in one round trip: store the inbound message, find or create the citizen by any of the
-- identities given, open the case and log its first event. Idempotent on (channel, provider id):
-- a second call with the same provider id returns the first call's case and creates nothing.
CREATE FUNCTION intake_message(
    p_channel text, p_provider_id text, p_request_hash text, p_text text, p_search text,
    p_sender text, p_kinds text[], p_values text[], p_name text, p_locale text,
    p_address text, p_lat double precision, p_lon double precision, p_raw jsonb,
    p_attachments jsonb, p_code text
) RETURNS TABLE (case_id bigint, tracking_code text, message_id bigint, created boolean, request_hash text)
LANGUAGE plpgsql AS $$
DECLARE
    v_msg bigint;
    v_citizen bigint;
    v_case bigint;
BEGIN
    INSERT INTO messages AS m (direction, channel, provider_message_id, request_hash, sender, text,
                               attachments, raw, status)
    VALUES ('in', p_channel, p_provider_id, p_request_hash, p_sender, p_text, p_attachments, p_raw, 'received')
    ON CONFLICT (channel, direction, provider_message_id) DO NOTHING
    RETURNING m.id INTO v_msg;

    IF v_msg IS NULL THEN
        RETURN QUERY
            SELECT m.case_id, c.tracking_code, m.id, false, m.request_hash
            FROM messages m LEFT JOIN cases c ON c.id = m.case_id
            WHERE m.channel = p_channel AND m.direction = 'in' AND m.provider_message_id = p_provider_id;
        RETURN;
    END IF;

    SELECT ci.citizen_id INTO v_citizen
    FROM citizen_identities ci
    JOIN unnest(p_kinds, p_values) WITH ORDINALITY AS t(kind, value, ord)
      ON ci.kind = t.kind AND ci.value = t.value
    ORDER BY t.ord
    LIMIT 1;

    IF v_citizen IS NULL THEN
        INSERT INTO citizens (display_name, locale) VALUES (p_name, p_locale) RETURNING id INTO v_citizen;
    ELSIF p_name IS NOT NULL THEN
        UPDATE citizens SET display_name = p_name WHERE id = v_citizen AND display_name IS NULL;
    END IF;

    IF cardinality(p_kinds) > 0 THEN
        INSERT INTO citizen_identities (citizen_id, kind, value)
        SELECT v_citizen, t.kind, t.value FROM unnest(p_kinds, p_values) AS t(kind, value)
        ON CONFLICT (kind, value) DO NOTHING;
    END IF;

    INSERT INTO cases (tracking_code, channel, citizen_id, description, search_text, address, lat, lon)
    VALUES (p_code, p_channel, v_citizen, p_text, p_search, p_address, p_lat, p_lon)
    RETURNING id INTO v_case;

    UPDATE messages SET case_id = v_case, citizen_id = v_citizen WHERE id = v_msg;

    INSERT INTO case_events (case_id, actor_kind, actor_name, kind, to_status, public, changes)
    VALUES (v_case, 'citizen', 'citizen', 'received', 'received', true,
            jsonb_build_object('channel', p_channel));

    RETURN QUERY SELECT v_case, p_code, v_msg, true, p_request_hash;
END $$;
