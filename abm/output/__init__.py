"""Output: column schemas, the recorder that builds frames, and the files a run writes."""
