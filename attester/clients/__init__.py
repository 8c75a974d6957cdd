"""HTTP clients shared by watchers and stores (GitHub API, retries)."""
