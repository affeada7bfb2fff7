"""What annotator keeps in PostgreSQL itself: the hot paths' PL/pgSQL functions and the row type they share.

Each lives in a file: `sql/<name>.sql` is its current definition, what the database holds once every migration
has run; `sql/versions/<name>.v<N>.sql` are frozen copies, loaded by version (`functions.versioned_sql`) by the
migrations that created or changed them, so an old migration keeps creating exactly what it created. To change
one, see `annotator.db.functions`.
"""
