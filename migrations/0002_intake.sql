-- Intake in one round trip: open the case, store the inbound message with the identities it came
-- with, and log the first event. Recognising the citizen behind those identities is left to the
-- processing job (link_citizen below), so the citizen is never waiting on it.
--
-- Idempotent on (channel, provider id) when p_check_existing is true (a client-chosen key or a
-- provider's message id, which can arrive twice): a transaction-scoped advisory lock on the id
-- serialises concurrent duplicates, and a second call returns the first call's case and creates
-- nothing. Ids we drew ourselves (random UUIDs) skip the check. The unique constraint on messages
-- stays as the last guard.
CREATE FUNCTION intake_message(
    p_channel text, p_provider_id text, p_check_existing boolean, p_request_hash text, p_text text,
    p_search text, p_sender text, p_identities jsonb, p_name text, p_locale text,
    p_address text, p_lat double precision, p_lon double precision, p_raw jsonb, p_attachments jsonb,
    p_code text
) RETURNS TABLE (case_id bigint, tracking_code text, message_id bigint, created boolean, request_hash text)
LANGUAGE plpgsql AS $$
DECLARE
    v_msg bigint;
    v_case bigint;
BEGIN
    IF p_check_existing THEN
        PERFORM pg_advisory_xact_lock(hashtextextended(p_channel || ':' || p_provider_id, 1022));
        RETURN QUERY
            SELECT m.case_id, c.tracking_code, m.id, false, m.request_hash
            FROM messages m LEFT JOIN cases c ON c.id = m.case_id
            WHERE m.channel = p_channel AND m.direction = 'in' AND m.provider_message_id = p_provider_id
              AND m.provider_message_id NOT LIKE 'auto:%';
        IF FOUND THEN
            RETURN;
        END IF;
    END IF;

    INSERT INTO cases (tracking_code, channel, description, search_text, locale, address, lat, lon)
    VALUES (p_code, p_channel, p_text, p_search, p_locale, p_address, p_lat, p_lon)
    RETURNING id INTO v_case;

    INSERT INTO messages AS m (case_id, direction, channel, provider_message_id, request_hash, sender,
                               identities, display_name, text, attachments, raw, status)
    VALUES (v_case, 'in', p_channel, p_provider_id, p_request_hash, p_sender, p_identities, p_name, p_text,
            coalesce(p_attachments, '[]'::jsonb), p_raw, 'received')
    RETURNING m.id INTO v_msg;

    INSERT INTO case_events (case_id, actor_kind, actor_name, kind, to_status, public, changes)
    VALUES (v_case, 'citizen', 'citizen', 'received', 'received', true,
            jsonb_build_object('channel', p_channel));

    RETURN QUERY SELECT v_case, p_code, v_msg, true, p_request_hash;
END $$;

-- One citizen across channels: find the citizen behind any of the identities of a case's first
-- message (phone, email, chat id), or create one; record the identities not yet known; link the
-- case and the message. Returns the citizen id, or NULL for an anonymous report. Idempotent.
CREATE FUNCTION link_citizen(p_case_id bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_citizen bigint;
    v_msg record;
BEGIN
    SELECT citizen_id INTO v_citizen FROM cases WHERE id = p_case_id;
    IF v_citizen IS NOT NULL THEN
        RETURN v_citizen;
    END IF;
    SELECT m.id, m.identities, m.display_name, c.locale INTO v_msg
    FROM messages m JOIN cases c ON c.id = m.case_id
    WHERE m.case_id = p_case_id AND m.direction = 'in' ORDER BY m.id LIMIT 1;
    IF v_msg.id IS NULL OR v_msg.identities IS NULL OR jsonb_array_length(v_msg.identities) = 0 THEN
        RETURN NULL;
    END IF;

    -- Two first reports from the same new phone at once must make one citizen, not two.
    PERFORM pg_advisory_xact_lock(hashtextextended((t.identity ->> 'kind') || ':' || (t.identity ->> 'value'), 1022))
    FROM (SELECT identity FROM jsonb_array_elements(v_msg.identities) AS e(identity) ORDER BY 1) AS t;

    SELECT ci.citizen_id INTO v_citizen
    FROM citizen_identities ci
    JOIN jsonb_array_elements(v_msg.identities) WITH ORDINALITY AS t(identity, ord)
      ON ci.kind = t.identity ->> 'kind' AND ci.value = t.identity ->> 'value'
    ORDER BY t.ord
    LIMIT 1;
    IF v_citizen IS NULL THEN
        INSERT INTO citizens (display_name, locale) VALUES (v_msg.display_name, v_msg.locale)
        RETURNING id INTO v_citizen;
    ELSIF v_msg.display_name IS NOT NULL THEN
        UPDATE citizens SET display_name = v_msg.display_name WHERE id = v_citizen AND display_name IS NULL;
    END IF;
    INSERT INTO citizen_identities (citizen_id, kind, value)
    SELECT v_citizen, t.identity ->> 'kind', t.identity ->> 'value'
    FROM jsonb_array_elements(v_msg.identities) AS t(identity)
    ON CONFLICT (kind, value) DO NOTHING;
    UPDATE cases SET citizen_id = v_citizen WHERE id = p_case_id;
    UPDATE messages SET citizen_id = v_citizen WHERE case_id = p_case_id AND citizen_id IS NULL;
    RETURN v_citizen;
END $$;
