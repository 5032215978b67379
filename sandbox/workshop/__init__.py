"""The workshop kit: ``cryptocity workshop`` builds a city with a seeded history (``history``), makes keys
for the participants and prints their sheet with QR codes (``sheet``), then serves it (``cli``)."""
