"""The exporter service: segment events in, clips, thumbnails, reel and results.json out."""
