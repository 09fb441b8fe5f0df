# bash completion for hubctl (onenet): the commands, then each command's
# options as its --help lists them.
_hubctl() {
  local cur prev words cword
  _init_completion 2>/dev/null || {
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD - 1]}
    words=("${COMP_WORDS[@]}")
    cword=$COMP_CWORD
  }
  local commands="status metrics workflows show overdue deadletters rejects replay
    unmatched tasks adapters hubs calendar migrate report keys verify"
  local global="--db --json --secret-key --hub-public-key --config --help"
  local i command=""
  for ((i = 1; i < cword; i++)); do
    case ${words[i]} in
      --db|--secret-key|--hub-public-key|--config) ((i++)) ;;
      -*) ;;
      *) command=${words[i]}; break ;;
    esac
  done
  case $prev in
    --config|--secret-key|--output|--dir|--hub-config)
      COMPREPLY=($(compgen -f -- "$cur")); return ;;
  esac
  if [[ -z $command ]]; then
    if [[ $cur == -* ]]; then
      COMPREPLY=($(compgen -W "$global" -- "$cur"))
    else
      COMPREPLY=($(compgen -W "$commands" -- "$cur"))
    fi
    return
  fi
  if [[ $cur == -* ]]; then
    # the options the command's own help names
    local opts
    opts=$(hubctl "$command" --help 2>/dev/null | grep -o -- '--[a-z][a-z-]*' | sort -u)
    COMPREPLY=($(compgen -W "$opts --json --help" -- "$cur"))
  fi
}
complete -F _hubctl hubctl
