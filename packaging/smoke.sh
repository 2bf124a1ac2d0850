#!/usr/bin/env bash
# Smoke test of a built DL Studio folder (Linux): does the frozen app do what a user does?
#
#     packaging/smoke.sh ["dist/DL Studio"]
#
# Uses only the folder (no Python, no virtual environment): run it on an unpacked archive as
# well. Each step prints PASS/FAIL/SKIP with its time; the exit status is the number of
# failures. Took 5 minutes on 2 shared cores (13 under a load of 12-20); TensorFlow starts
# in every worker and fresh process, and the demo and the searches train for real.
#   version    `dlstudio --version`
#   no-window  the windowed executable without a display: the plain message, exit 2
#   demo       `dlstudio demo --screenshots DIR` offscreen: the real window, a search in the
#              spawned worker, the bundled sample and style sheet, screenshots
#   run        `dlstudio run` on the bundled credit sample with --export: a search in the frozen
#              worker, then the SavedModel verified in a fresh process (fresh.module_command)
#   predict    `dlstudio predict` with that export
#   kill       a second run whose worker is killed (SIGKILL) after its first trial: exit 1 and
#              a plain "killed" message
#   resume     `dlstudio resume` of that project finishes the search
#   desktop    install.sh into a scratch XDG_DATA_HOME; the entry's Exec line, started under
#              Xvfb, opens the window with its icon (screenshots desktop.png, about.png).
#              SKIP without Xvfb, xdotool or ImageMagick.
# Everything is written under a scratch folder (printed at the end; kept for a look).
# SMOKE_STEPS="version desktop" runs only the steps named (predict needs run, resume needs kill).
set -uo pipefail

folder=$(cd "${1:-dist/DL Studio}" 2>/dev/null && pwd -P) || {
    echo "smoke.sh: no folder ${1:-dist/DL Studio} (build it with 'make bundle')" >&2; exit 2; }
cli="$folder/dlstudio"
gui="$folder/DL Studio"
credit="$folder/_internal/dlstudio/resources/samples/credit.csv"
work=$(mktemp -d "${TMPDIR:-/tmp}/dlstudio-smoke.XXXXXX")
export DLSTUDIO_HOME="$work/home"            # DL Studio's own logs stay in the scratch folder
export XDG_CONFIG_HOME="$work/config"        # and its settings (recent projects, geometry)
failures=0
summary=()

# step NAME FUNCTION: run FUNCTION with its output in $work/NAME.log; a FUNCTION returning 77
# means SKIP.
step() {
    local name=$1 fn=$2 t0 t1 rc verdict
    t0=$(date +%s.%N)
    "$fn" >"$work/$name.log" 2>&1
    rc=$?
    t1=$(date +%s.%N)
    case $rc in
        0) verdict=PASS ;;
        77) verdict=SKIP ;;
        *) verdict=FAIL; failures=$((failures + 1)) ;;
    esac
    local line
    line=$(awk -v v="$verdict" -v n="$name" -v a="$t0" -v b="$t1" \
        'BEGIN { printf "%-4s  %-9s %6.1f s", v, n, b - a }')
    echo "$line"
    summary+=("$line")
    if [ "$verdict" = FAIL ]; then
        sed 's/^/      | /' "$work/$name.log" | tail -n 15
    fi
}

expect() {       # expect DESCRIPTION COMMAND...: fail the step with DESCRIPTION if COMMAND fails
    local what=$1; shift
    "$@" || { echo "expected: $what"; return 1; }
}

s_version() {
    local out
    out=$("$cli" --version) || return 1
    echo "$out"
    expect "'dlstudio <version>'" grep -Eq '^dlstudio [0-9]' <<<"$out"
}

s_no_window() {
    local rc=0
    env -u DISPLAY -u WAYLAND_DISPLAY -u QT_QPA_PLATFORM "$gui" 2>"$work/no-window.err" || rc=$?
    cat "$work/no-window.err"
    expect "exit status 2, got $rc" test "$rc" = 2 &&
    expect "the plain message" grep -q "DL Studio cannot open its window" "$work/no-window.err" &&
    expect "no traceback" bash -c "! grep -q Traceback '$work/no-window.err'"
}

s_demo() {
    QT_QPA_PLATFORM=offscreen "$cli" demo --screenshots "$work/demo" || return 1
    ls "$work/demo"
    expect "7 screenshots" test "$(find "$work/demo" -name '*.png' | wc -l)" -ge 7
}

s_run() {
    "$cli" run "$credit" --template credit-scoring --max-trials 1 --max-epochs 2 \
        --project "$work/run" --export "$work/export" || return 1
    expect "a SavedModel" test -f "$work/export/saved_model.pb" &&
    expect "a verified model card" grep -q '"verified"' "$work/export/model_card.json"
}

s_predict() {
    "$cli" predict "$work/export" "$credit" --output "$work/scored.csv" || return 1
    head -3 "$work/scored.csv"
    expect "a score per row" test "$(wc -l <"$work/scored.csv")" = "$(wc -l <"$credit")"
}

descendants() {  # the process ids under $1, all generations
    local child
    for child in $(ps -o pid= --ppid "$1"); do
        echo "$child"
        descendants "$child"
    done
}

s_kill() {
    "$cli" run "$credit" --template credit-scoring --max-trials 3 --max-epochs 3 \
        --project "$work/killed" --json >"$work/killed.jsonl" 2>"$work/killed.err" &
    local parent=$! rc=0 worker="" pid i
    for i in $(seq 600); do                  # up to 5 minutes for the first trial to end
        grep -q '"type": "trial_ended"' "$work/killed.jsonl" 2>/dev/null && break
        kill -0 "$parent" 2>/dev/null || break
        sleep 0.5
    done
    for pid in $(descendants "$parent"); do
        # the spawned worker; multiprocessing's resource tracker is started with -c instead
        if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- '--multiprocessing-fork'; then
            worker=$pid
        fi
    done
    echo "cli $parent, worker ${worker:-not found}"
    [ -n "$worker" ] || { kill "$parent"; wait "$parent"; return 1; }
    kill -KILL "$worker"
    wait "$parent" || rc=$?
    cat "$work/killed.err"
    tail -n 2 "$work/killed.jsonl"
    expect "exit status 1, got $rc" test "$rc" = 1 &&
    expect "a search_failed event that says the worker was killed" \
        grep -q '"type": "search_failed".*killed' "$work/killed.jsonl"
}

s_resume() {
    "$cli" resume "$work/killed" --json >"$work/resumed.jsonl" || return 1
    tail -n 1 "$work/resumed.jsonl"
    expect "the search finished" grep -q '"type": "search_finished"' "$work/resumed.jsonl" &&
    expect "it went on from the trial done before" \
        grep -q '"completed_trials": [1-9]' "$work/resumed.jsonl"
}

s_desktop() {
    command -v Xvfb >/dev/null && command -v xdotool >/dev/null && command -v import >/dev/null \
        || { echo "Xvfb, xdotool or ImageMagick's import is missing"; return 77; }
    XDG_DATA_HOME="$work/data" "$folder/install.sh" || return 1
    local entry="$work/data/applications/dlstudio.desktop" value argv display pid xvfb
    cat "$entry"
    # The Exec value: the string escapes (\\ is one backslash), then the quoting, which is the
    # shell's double quotes (\" \` \$ \\ inside).
    value=$(sed -n 's/^Exec=//p' "$entry")
    value=${value//\\\\/\\}
    eval "argv=($value)"
    echo "Exec starts: ${argv[*]}"
    for display in $(seq 91 120); do [ -e "/tmp/.X11-unix/X$display" ] || break; done
    Xvfb ":$display" -screen 0 1280x860x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
    xvfb=$!
    for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X$display" ] && break; sleep 0.1; done
    (cd "$work" && exec env -u QT_QPA_PLATFORM DISPLAY=":$display" "${argv[@]}" \
        >"$work/desktop-app.log" 2>&1) &
    pid=$!
    local window="" ok=1
    for _ in $(seq 120); do
        window=$(DISPLAY=":$display" xdotool search --name '^DL Studio' 2>/dev/null | head -n 1)
        [ -n "$window" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
    if [ -n "$window" ]; then
        sleep 3                               # let the first page paint
        DISPLAY=":$display" xprop -id "$window" WM_CLASS _NET_WM_NAME
        # the window's icon as a window manager reads it (the first of its sizes; xprop prints
        # nothing for the whole property, which holds every size)
        DISPLAY=":$display" xprop -id "$window" -notype -len 8 _NET_WM_ICON | grep -a 'Icon ('
        DISPLAY=":$display" import -window root "$work/desktop.png" && ok=0
        echo "screenshot: $work/desktop.png"
        # Help > About (Alt+H, Enter): a look at the icon in the About box (not a pass/fail)
        DISPLAY=":$display" xdotool windowfocus "$window" key alt+h sleep 1 key Return sleep 2
        if DISPLAY=":$display" xdotool search --name '^About DL Studio' >/dev/null; then
            DISPLAY=":$display" import -window root "$work/about.png"
            echo "About box: $work/about.png"
        fi
    else
        echo "no window appeared"
        cat "$work/desktop-app.log"
    fi
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    kill "$xvfb" 2>/dev/null
    wait "$xvfb" 2>/dev/null
    XDG_DATA_HOME="$work/data" "$folder/uninstall.sh"
    return $ok
}

echo "Smoke test of $folder"
for name in ${SMOKE_STEPS:-version no-window demo run predict kill resume desktop}; do
    step "$name" "s_${name//-/_}"
done
echo "$failures failed; logs, screenshots and projects in $work"
exit "$failures"
