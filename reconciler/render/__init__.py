"""Plans and problems as text for people, JSON for machines, Markdown for pull requests."""
