"""The browser console: agent desktop and supervisor wallboard (HTML shells + static modules)."""
