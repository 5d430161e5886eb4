"""CI: the generated workflows, their YAML model, the Gitea rules and the lint session."""
