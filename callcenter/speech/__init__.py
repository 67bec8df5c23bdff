"""Speech analytics: transcripts of recordings, search over them, QA phrase rules."""
