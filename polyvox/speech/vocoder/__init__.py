"""A neural vocoder (HiFi-GAN from speechbrain's modules) for the GPU TTS path: log-mel -> waveform."""
