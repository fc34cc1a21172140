-- Who answered a call, as the provider's answering-machine detection says it (`human`,
-- `machine_start`, …): a call a machine answered leaves its lead MISSED, not CONNECTED.
ALTER TABLE calls ADD COLUMN answered_by TEXT;

-- A campaign's own choice of answering-machine detection; NULL: the server's default
-- (`SWITCHBOARD_MACHINE_DETECTION`).
ALTER TABLE campaigns ADD COLUMN machine_detection BOOLEAN;
-- With detection, a message to leave on an answering machine after its greeting (NULL: hang
-- up instead).
ALTER TABLE campaigns ADD COLUMN voicemail_message TEXT;
