"""Detection that proposes masks: edges, template matching, damage (scratches, dust, spots)."""
