"""Everything that talks to an LLM: the client, its prompts, the output schemas, the offline backend."""
