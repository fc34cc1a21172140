-- Whether a lead without a time zone of its own is called in its phone number's zone (the
-- area code's in North America, the country's elsewhere) rather than the schedule's.
ALTER TABLE schedules ADD COLUMN number_zones BOOLEAN NOT NULL DEFAULT TRUE;
