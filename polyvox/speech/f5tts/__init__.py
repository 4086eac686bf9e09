"""F5-TTS-style flow-matching TTS (the GPU path): model, flow matching, training side and runs."""
