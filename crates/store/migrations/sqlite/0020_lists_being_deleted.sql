-- A list is deleted in two steps (`lists::delete`): first marked, which hides it from every
-- reader and refuses new leads for it, then its leads are cleared of it a batch per transaction
-- and the row goes. One statement over a list of 1,000,000 leads held SQLite's write lock for
-- about 2 s, and every write of the API and the dialer waited behind it. A server that stops
-- between the steps finishes a marked list's deletion when it runs again.
ALTER TABLE lists ADD COLUMN deleted_at TEXT;
