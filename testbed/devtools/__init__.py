"""Developer tools: the settings docs generator, the system packages the tests need."""
