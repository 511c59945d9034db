"""intents package."""
