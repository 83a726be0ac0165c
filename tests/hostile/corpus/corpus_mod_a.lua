require('corpus_mod_b')
return {}
