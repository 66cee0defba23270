-- How many twins were made in each calendar month (UTC, 'YYYY-MM'): the Free plan and a Paid
-- license with a limit allow so many new twins a month. A counter, not a count of the twins
-- table, so a twin removed later (Clean-up) still counts for the month it was made in.
CREATE TABLE twin_months (
    month TEXT PRIMARY KEY,
    made  INTEGER NOT NULL
) STRICT;
INSERT INTO twin_months (month, made)
    SELECT strftime('%Y-%m', created / 1000, 'unixepoch'), count(*) FROM twins GROUP BY 1;
