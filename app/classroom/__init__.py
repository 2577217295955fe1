"""The classroom loop: students in a room, class predictions, the live wall, batches, graded exercises."""
