-- Which worker of which node holds (or rendered) a chunk, as the 3D view draws it: one lane per
-- node and worker. Set with each claim.
ALTER TABLE chunks ADD COLUMN lane TEXT;
