//! Audio enhancement: loudness normalisation (EBU R128, true-peak limited). Stages run on float
//! samples between the decoder's filter graph and the encoder.

pub mod loudness;
