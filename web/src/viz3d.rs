//! A 3D picture of one job's progress, drawn with three-d on WebGL2: chunks laid along time (left to
//! right), one lane per worker (plus the queue), each chunk a block coloured by state whose height
//! grows with the frames done. Drag or arrow keys orbit, wheel, pinch or +/− zoom. It is redrawn when
//! an event changes the job or the view moves, not continuously.

use crate::events::JobView;
use kino_shared::ChunkState;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use three_d::*;
use web_sys::HtmlCanvasElement;
use yew::prelude::*;

const PENDING: Srgba = Srgba::new_opaque(138, 143, 152);
const RUNNING: Srgba = Srgba::new_opaque(245, 158, 11);
const DONE: Srgba = Srgba::new_opaque(34, 197, 94);
const FAILED: Srgba = Srgba::new_opaque(239, 68, 68);
const LANE: Srgba = Srgba::new_opaque(71, 85, 105);
/// Length of the time axis in scene units.
const LENGTH: f32 = 12.0;

/// Orbit camera state.
#[derive(Clone, Copy)]
struct View {
    yaw: f32,
    pitch: f32,
    distance: f32,
}

impl Default for View {
    fn default() -> Self {
        View {
            yaw: -0.6,
            pitch: 0.55,
            distance: 14.0,
        }
    }
}

struct Scene {
    context: three_d::Context,
    canvas: HtmlCanvasElement,
    blocks: Gm<InstancedMesh, PhysicalMaterial>,
    view: View,
    /// Centre of the picture (middle of the lanes).
    centre: Vec3,
    /// Active pointers (for pinch zoom).
    pointers: HashMap<i32, (f32, f32)>,
}

// three-d takes the GL context in an Arc; in the page there is one thread.
#[cfg(target_arch = "wasm32")]
#[allow(clippy::arc_with_non_send_sync)]
fn webgl2(canvas: &HtmlCanvasElement) -> Result<three_d::Context, String> {
    use std::sync::Arc;
    use wasm_bindgen::{JsCast, JsValue};
    let opts = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&opts, &"antialias".into(), &JsValue::TRUE);
    // Kept after compositing, so the picture can be read back (tests, screenshots).
    let _ = js_sys::Reflect::set(&opts, &"preserveDrawingBuffer".into(), &JsValue::TRUE);
    let gl: web_sys::WebGl2RenderingContext = canvas
        .get_context_with_context_options("webgl2", &opts)
        .ok()
        .flatten()
        .and_then(|c| c.dyn_into().ok())
        .ok_or("this browser has no WebGL2")?;
    let _ = gl.get_extension("EXT_color_buffer_float");
    let _ = gl.get_extension("OES_texture_float_linear");
    let gl = three_d::context::Context::from_webgl2_context(gl);
    three_d::Context::from_gl_context(Arc::new(gl)).map_err(|e| e.to_string())
}

/// Native builds (checks, unit tests) have no WebGL.
#[cfg(not(target_arch = "wasm32"))]
fn webgl2(_: &HtmlCanvasElement) -> Result<three_d::Context, String> {
    Err("WebGL2 exists only in the browser".into())
}

impl Scene {
    fn new(canvas: HtmlCanvasElement) -> Result<Scene, String> {
        let context = webgl2(&canvas)?;
        let material = PhysicalMaterial::new_opaque(
            &context,
            &CpuMaterial {
                albedo: Srgba::WHITE,
                roughness: 0.8,
                metallic: 0.0,
                ..Default::default()
            },
        );
        let mesh = InstancedMesh::new(&context, &Instances::default(), &CpuMesh::cube());
        Ok(Scene {
            context,
            canvas,
            blocks: Gm::new(mesh, material),
            view: View::default(),
            centre: vec3(LENGTH / 2.0, 0.0, 0.0),
            pointers: HashMap::new(),
        })
    }

    /// Places the blocks for `job`.
    fn layout(&mut self, job: Option<&JobView>) {
        let mut transformations = vec![];
        let mut colors = vec![];
        let mut block = |x: f32, z: f32, w: f32, h: f32, d: f32, c: Srgba| {
            transformations.push(
                Mat4::from_translation(vec3(x, h / 2.0, z))
                    * Mat4::from_nonuniform_scale(w / 2.0, h / 2.0, d / 2.0),
            );
            colors.push(c);
        };
        let lanes = job.map(lanes_of).unwrap_or_default();
        let lane_count = lanes.len().max(1) as f32 + 1.0;
        // The queue is lane 0, workers follow.
        for l in 0..lane_count as usize {
            block(LENGTH / 2.0, l as f32 * 1.5, LENGTH + 0.4, 0.04, 1.3, LANE);
        }
        if let Some(job) = job {
            let n = job.chunks.len().max(1);
            let unit = LENGTH / n as f32;
            let running_height = running_progress(job);
            for (i, c) in job.chunks.iter().enumerate() {
                let lane = c
                    .worker
                    .as_ref()
                    .and_then(|w| lanes.iter().position(|x| x == w))
                    .map(|p| p + 1)
                    .unwrap_or(0);
                let (h, color) = match c.state {
                    ChunkState::Pending => (0.15, PENDING),
                    ChunkState::Running => (0.15 + 2.85 * running_height, RUNNING),
                    ChunkState::Done => (3.0, DONE),
                    ChunkState::Failed => (3.0, FAILED),
                };
                let x = (i as f32 + 0.5) * unit;
                block(x, lane as f32 * 1.5, unit * 0.86, h, 1.0, color);
            }
        }
        self.centre = vec3(LENGTH / 2.0, 0.8, (lane_count - 1.0) * 0.75);
        let instances = Instances {
            transformations,
            colors: Some(colors),
            ..Default::default()
        };
        self.blocks.geometry.set_instances(&instances);
    }

    fn draw(&self) {
        let dpr = web_sys::window()
            .map(|w| w.device_pixel_ratio())
            .unwrap_or(1.0);
        let (w, h) = (
            (self.canvas.client_width() as f64 * dpr).max(1.0) as u32,
            (self.canvas.client_height() as f64 * dpr).max(1.0) as u32,
        );
        if self.canvas.width() != w || self.canvas.height() != h {
            self.canvas.set_width(w);
            self.canvas.set_height(h);
        }
        let v = self.view;
        let eye = self.centre
            + vec3(
                v.distance * v.pitch.cos() * v.yaw.sin(),
                v.distance * v.pitch.sin(),
                v.distance * v.pitch.cos() * v.yaw.cos(),
            );
        let camera = Camera::new_perspective(
            Viewport::new_at_origo(w, h),
            eye,
            self.centre,
            vec3(0.0, 1.0, 0.0),
            degrees(40.0),
            0.1,
            200.0,
        );
        let ambient = AmbientLight::new(&self.context, 0.45, Srgba::WHITE);
        let sun = DirectionalLight::new(&self.context, 2.2, Srgba::WHITE, vec3(-0.4, -1.0, -0.6));
        RenderTarget::screen(&self.context, w, h)
            .clear(ClearState::color_and_depth(0.0, 0.0, 0.0, 0.0, 1.0))
            .render(&camera, &self.blocks, &[&ambient, &sun]);
    }
}

/// Worker names in the order they first took a chunk.
fn lanes_of(job: &JobView) -> Vec<String> {
    let mut lanes: Vec<String> = vec![];
    for w in job.chunks.iter().filter_map(|c| c.worker.as_ref()) {
        if !lanes.contains(w) {
            lanes.push(w.clone());
        }
    }
    lanes
}

/// How far the running chunks are (0…1), from the frames done beyond the finished chunks.
fn running_progress(job: &JobView) -> f32 {
    let running = job
        .chunks
        .iter()
        .filter(|c| c.state == ChunkState::Running)
        .count();
    if running == 0 || job.frames_total == 0 || job.chunks.is_empty() {
        return 0.0;
    }
    let finished: u64 = job
        .chunks
        .iter()
        .filter(|c| c.state == ChunkState::Done)
        .map(|c| c.frames)
        .sum();
    let per_chunk = job.frames_total as f32 / job.chunks.len() as f32;
    let extra = job.frames_done.saturating_sub(finished) as f32;
    (extra / running as f32 / per_chunk).clamp(0.0, 1.0)
}

/// The job in words, for screen readers and as the picture's caption.
fn summary(job: Option<&JobView>) -> String {
    let Some(j) = job else {
        return "No job yet: the chunks of the next render appear here.".into();
    };
    let count = |s: ChunkState| j.chunks.iter().filter(|c| c.state == s).count();
    format!(
        "{} {}: {} done, {} running on {} worker(s), {} waiting{}",
        j.chunks.len(),
        crate::jobs::chunks(j.chunks.len() as u64),
        count(ChunkState::Done),
        count(ChunkState::Running),
        lanes_of(j).len(),
        count(ChunkState::Pending),
        match count(ChunkState::Failed) {
            0 => String::new(),
            n => format!(", {n} failed"),
        }
    )
}

#[derive(Properties, PartialEq)]
pub struct Props {
    pub job: Option<JobView>,
}

type Shared = Rc<RefCell<Option<Scene>>>;

fn with_scene(scene: &Shared, f: impl FnOnce(&mut Scene)) {
    if let Some(s) = scene.borrow_mut().as_mut() {
        f(s);
        s.draw();
    }
}

#[function_component(Viz3d)]
pub fn viz3d(props: &Props) -> Html {
    let canvas = use_node_ref();
    let scene: Shared = use_mut_ref(|| None);
    let problem = use_state(|| None::<String>);
    {
        let (canvas, scene, problem) = (canvas.clone(), scene.clone(), problem.clone());
        use_effect_with(props.job.clone(), move |job| {
            if scene.borrow().is_none() {
                if let Some(c) = canvas.cast::<HtmlCanvasElement>() {
                    match Scene::new(c) {
                        Ok(s) => *scene.borrow_mut() = Some(s),
                        Err(e) => problem.set(Some(format!("No 3D view: {e}"))),
                    }
                }
            }
            with_scene(&scene, |s| s.layout(job.as_ref()));
        });
    }
    let onpointerdown = {
        let scene = scene.clone();
        Callback::from(move |e: PointerEvent| {
            if let Some(t) = e.target_dyn_into::<web_sys::Element>() {
                let _ = t.set_pointer_capture(e.pointer_id());
            }
            if let Some(s) = scene.borrow_mut().as_mut() {
                s.pointers
                    .insert(e.pointer_id(), (e.client_x() as f32, e.client_y() as f32));
            }
        })
    };
    let onpointerup = {
        let scene = scene.clone();
        Callback::from(move |e: PointerEvent| {
            if let Some(s) = scene.borrow_mut().as_mut() {
                s.pointers.remove(&e.pointer_id());
            }
        })
    };
    let onpointermove = {
        let scene = scene.clone();
        Callback::from(move |e: PointerEvent| {
            let p = (e.client_x() as f32, e.client_y() as f32);
            with_scene(&scene, |s| {
                let Some(&prev) = s.pointers.get(&e.pointer_id()) else {
                    return;
                };
                if s.pointers.len() >= 2 {
                    // Pinch: the distance to the other pointer sets the zoom.
                    let other = s
                        .pointers
                        .iter()
                        .find(|(id, _)| **id != e.pointer_id())
                        .map(|(_, v)| *v)
                        .unwrap_or(prev);
                    let d0 = ((prev.0 - other.0).powi(2) + (prev.1 - other.1).powi(2)).sqrt();
                    let d1 = ((p.0 - other.0).powi(2) + (p.1 - other.1).powi(2)).sqrt();
                    if d0 > 1.0 && d1 > 1.0 {
                        s.view.distance = (s.view.distance * d0 / d1).clamp(4.0, 60.0);
                    }
                } else {
                    s.view.yaw -= (p.0 - prev.0) * 0.01;
                    s.view.pitch = (s.view.pitch + (p.1 - prev.1) * 0.01).clamp(0.05, 1.5);
                }
                s.pointers.insert(e.pointer_id(), p);
            });
        })
    };
    let onwheel = {
        let scene = scene.clone();
        Callback::from(move |e: WheelEvent| {
            e.prevent_default();
            with_scene(&scene, |s| {
                s.view.distance =
                    (s.view.distance * (e.delta_y() as f32 * 0.001).exp()).clamp(4.0, 60.0);
            });
        })
    };
    let onkeydown = {
        let scene = scene.clone();
        Callback::from(move |e: KeyboardEvent| {
            let key = e.key();
            let handled = matches!(
                key.as_str(),
                "ArrowLeft" | "ArrowRight" | "ArrowUp" | "ArrowDown" | "+" | "=" | "-" | "0"
            );
            if !handled {
                return;
            }
            e.prevent_default();
            with_scene(&scene, |s| match key.as_str() {
                "ArrowLeft" => s.view.yaw += 0.15,
                "ArrowRight" => s.view.yaw -= 0.15,
                "ArrowUp" => s.view.pitch = (s.view.pitch + 0.1).min(1.5),
                "ArrowDown" => s.view.pitch = (s.view.pitch - 0.1).max(0.05),
                "+" | "=" => s.view.distance = (s.view.distance * 0.9).max(4.0),
                "-" => s.view.distance = (s.view.distance * 1.1).min(60.0),
                _ => s.view = View::default(),
            });
        })
    };
    let text = summary(props.job.as_ref());
    let legend = [
        ("waiting", PENDING),
        ("running", RUNNING),
        ("done", DONE),
        ("failed", FAILED),
    ];
    html! {
        <section class="panel viz" aria-labelledby="viz-h">
            <h2 id="viz-h">{"Chunks in 3D"}</h2>
            <canvas ref={canvas} id="viz3d" tabindex="0" role="img" aria-label={text.clone()}
                {onpointerdown} onpointerup={onpointerup.clone()} onpointercancel={onpointerup}
                {onpointermove} {onwheel} {onkeydown} />
            if let Some(p) = &*problem { <p class="err">{ p }</p> }
            <p class="muted" id="viz-summary">{ text }</p>
            <div class="legend">
                { for legend.iter().map(|(name, c)| html! {
                    <span><i style={format!("background:rgb({},{},{})", c.r, c.g, c.b)} />{ *name }</span>
                }) }
                <span class="muted">{"left → right: time · lanes: queue, then one per node and worker · height: frames done · drag/arrows orbit, wheel/pinch/± zoom, 0 resets"}</span>
            </div>
        </section>
    }
}
