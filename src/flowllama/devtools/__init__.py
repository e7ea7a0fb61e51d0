"""Developer tools: things that help build and test FlowLlama, never used to serve users."""
