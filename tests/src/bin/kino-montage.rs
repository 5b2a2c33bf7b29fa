//! Writes the scene-detection montage (see `kino_tests::montage`) and prints its path, then one
//! line per transition: first and last frame. For `bench/scenes.sh`.

fn main() {
    let (video, truth) = kino_tests::montage::montage();
    println!("{}", video.display());
    for (a, b) in truth {
        println!("{a} {b}");
    }
}
