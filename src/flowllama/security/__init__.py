"""Password hashing, opaque tokens and JWTs."""
