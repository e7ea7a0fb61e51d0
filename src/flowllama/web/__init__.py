"""The static web UI, served by the API and exportable to any static host."""
