"""Pure policy: plan, nudges, draft checks and safety, as functions of data and a clock."""
