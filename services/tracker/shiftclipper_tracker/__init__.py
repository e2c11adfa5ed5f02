"""The tracker service: video in, the target player's shifts out as segment events."""
