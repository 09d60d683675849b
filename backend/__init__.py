"""Case backend of the after-sales assistant: orders, policy engine, cases, evidence, deadlines."""
