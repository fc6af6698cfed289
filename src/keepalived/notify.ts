// Why keepalived's notify scripts are refused wherever they appear.
export const NOTIFY_WHY = 'failoverd\'s alerts.notify cannot limit a program to one instance or one state, nor pass '
  + 'the script\'s own arguments; it would run at the wrong times';
