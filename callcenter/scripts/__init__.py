"""Call scripts: branching steps an agent reads and answers during a call, with versions."""
