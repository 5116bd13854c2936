-- Why a case went to its unit and why its deadline is what it is, in English too: the console shows the
-- reader's language. `routing_reason` and `deadline_reason` stay the Vietnamese ones; rows written before
-- this migration keep their single reason (NULL here), and readers fall back to it.
ALTER TABLE cases
    ADD COLUMN routing_reason_en text,
    ADD COLUMN deadline_reason_en text;
