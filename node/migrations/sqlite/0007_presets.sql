-- The user's presets: named job settings (JSON), exported and imported as a versioned file.
CREATE TABLE IF NOT EXISTS presets (
    name TEXT PRIMARY KEY,
    settings TEXT NOT NULL,
    updated_ms BIGINT NOT NULL
);
