"""The product's functions in Convex's style: queries, mutations and actions, by path."""
