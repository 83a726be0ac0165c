require('corpus_mod_a')
return {}
