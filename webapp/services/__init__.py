"""Business steps, called by views and tasks."""
