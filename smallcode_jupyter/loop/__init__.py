"""The agent loop: stages (plan, context, generate, check, repair) and the pipeline."""
