"""Getting data in and out: advisor and team files, the original Prisma database, and
Convex snapshot exports. Each importer reports per item what it did and why."""
