// gantry completion SHELL: prints a script that makes <Tab> complete gantry's
// commands, flags and values. The scripts only collect the words typed so far and
// ask `gantry __complete` (src/cli/completion.ts) what fits.
import type { Command } from 'commander';
import { UsageError } from '../output.js';

const BASH = `# gantry completion for bash. Load it with
#   source <(gantry completion bash)            # this shell
#   gantry completion bash > /etc/bash_completion.d/gantry   # every shell
_gantry_complete() {
  local line=\${COMP_LINE:0:COMP_POINT}
  local -a words
  read -ra words <<<"$line"
  [[ $line == *[[:space:]] ]] && words+=("")
  ((\${#words[@]} > 0)) || return 0
  local cur=\${words[-1]}
  # bash splits words at = and :, so what it replaces may be only the tail of cur.
  local bashcur=\${COMP_WORDS[COMP_CWORD]}
  local strip=""
  [[ $bashcur != "$cur" && $cur == *"$bashcur" ]] && strip=\${cur%"$bashcur"}
  local out
  out=$("\${words[0]}" __complete "\${words[@]:1}" 2>/dev/null) || return 0
  local -a lines
  mapfile -t lines <<<"$out"
  local directive=\${lines[-1]}
  unset 'lines[-1]'
  COMPREPLY=()
  local l
  for l in "\${lines[@]}"; do
    [[ -n $l ]] || continue
    l=\${l%%$'\\t'*}
    COMPREPLY+=("\${l#"$strip"}")
  done
  case $directive in
  :files)
    compopt -o filenames 2>/dev/null
    mapfile -t -O "\${#COMPREPLY[@]}" COMPREPLY < <(compgen -f -- "\${cur#"$strip"}")
    ;;
  :dirs)
    compopt -o filenames 2>/dev/null
    mapfile -t -O "\${#COMPREPLY[@]}" COMPREPLY < <(compgen -d -- "\${cur#"$strip"}")
    ;;
  esac
  return 0
}
complete -F _gantry_complete gantry
`;

const ZSH = `#compdef gantry
# gantry completion for zsh. Load it with
#   source <(gantry completion zsh)             # this shell (after compinit)
#   gantry completion zsh > "\${fpath[1]}/_gantry"   # every shell
_gantry() {
  local out directive l
  local -a lines candidates
  out=$("\${words[1]}" __complete "\${(@)words[2,CURRENT]}" 2>/dev/null) || return 1
  lines=("\${(@f)out}")
  directive=\${lines[-1]}
  for l in "\${(@)lines[1,-2]}"; do
    [[ -n $l ]] || continue
    if [[ $l == *$'\\t'* ]]; then
      candidates+=("\${\${l%%$'\\t'*}//:/\\\\:}:\${l#*$'\\t'}")
    else
      candidates+=("\${l//:/\\\\:}")
    fi
  done
  (( \${#candidates} )) && _describe 'gantry' candidates
  case $directive in
  :files) _files ;;
  :dirs) _files -/ ;;
  esac
  return 0
}
if [[ \${funcstack[1]} == _gantry ]]; then
  _gantry "$@"
else
  compdef _gantry gantry
fi
`;

const FISH = `# gantry completion for fish. Load it with
#   gantry completion fish | source              # this shell
#   gantry completion fish > ~/.config/fish/completions/gantry.fish   # every shell
function __gantry_complete
    set -l words (commandline -opc)
    set -l cur (commandline -ct)
    set -q cur[1]; or set cur ''
    set -l out ($words[1] __complete $words[2..-1] $cur 2>/dev/null)
    or return
    set -l directive $out[-1]
    set -e out[-1]
    for l in $out
        test -n "$l"; and echo $l
    end
    switch $directive
        case :files
            __fish_complete_path $cur
        case :dirs
            __fish_complete_directories $cur
    end
end
complete -c gantry -f -a '(__gantry_complete)'
`;

export const completionScripts: Record<string, string> = { bash: BASH, zsh: ZSH, fish: FISH };

export function registerCompletionCommands(program: Command): void {
  program
    .command('completion')
    .description('print the shell completion script for bash, zsh or fish')
    .argument('<shell>', 'bash, zsh or fish')
    .addHelpText(
      'after',
      `
Completes commands, flags, spec file paths (-f), output formats, revisions for
rollback (from the cluster), receivers and alert names (from the spec), silence IDs
(from Alertmanager) and kubeconfig contexts. Values from the cluster are asked for
with a 2 s limit, so an unreachable cluster never makes <Tab> hang.

Examples:
  source <(gantry completion bash)
  gantry completion zsh > "\${fpath[1]}/_gantry"
  gantry completion fish > ~/.config/fish/completions/gantry.fish
`,
    )
    .action((shell: string) => {
      const script = completionScripts[shell];
      if (!script) throw new UsageError(`unknown shell "${shell}" (use bash, zsh or fish)`);
      process.stdout.write(script);
    });
}
