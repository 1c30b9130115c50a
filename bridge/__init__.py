"""buffer-bridge: drive Buffer posting schedules from webhooks, chat, REST and timers."""
