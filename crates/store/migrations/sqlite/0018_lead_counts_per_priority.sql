-- PostgreSQL's kept lead counts gain the priority. SQLite keeps none (it counts from its
-- covering status index, which holds the priority): this migration only keeps the two
-- dialects' migration numbers in step.
SELECT 1;
